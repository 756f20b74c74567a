"""Art. 11: personal data the platform never collects (religion, genes, fingerprints, blood
type, disease and medical history), and data it collects only with the subject's written
consent (income, deposits, securities, commercial insurance, real estate, tax amount).

Recognised by field name or label, in Chinese, English or pinyin. Pure functions. English and
pinyin are matched as whole words of the name (`blood_type`, `bloodType`, `xuexing`), so that
`general` is not taken for `gene`; Chinese is matched as a substring."""

from __future__ import annotations

import re
from functools import lru_cache

FORBIDDEN = "forbidden"
CONSENT_ONLY = "consent_only"

# topic -> (Chinese substrings, English/pinyin word sequences)
_FORBIDDEN_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "religion": (("宗教", "信仰", "教派"), ("religion", "religious", "faith", "zongjiao", "xinyang")),
    "genes": (("基因", "遗传信息", "脱氧核糖核酸"), ("gene", "genes", "genetic", "genome", "dna", "jiyin")),
    "fingerprints": (("指纹",), ("fingerprint", "fingerprints", "finger print", "zhiwen")),
    "blood type": (("血型",), ("blood type", "blood group", "bloodtype", "xuexing")),
    "disease and medical history": (
        ("疾病", "病史", "病历", "诊断", "病情", "既往史", "健康状况"),
        ("disease", "diseases", "illness", "medical history", "medical record", "diagnosis",
         "health condition", "health status", "jibing", "bingshi", "bingli"),
    ),
}
_CONSENT_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "income": (("收入", "工资", "薪酬", "薪金"), ("income", "salary", "wage", "wages", "shouru", "gongzi")),
    "deposits": (("存款",), ("deposit", "deposits", "bank balance", "cunkuan")),
    "securities": (("有价证券", "证券", "股票", "债券", "基金份额"),
                   ("securities", "security holdings", "stock holdings", "zhengquan")),
    "commercial insurance": (("商业保险", "人寿保险", "保单"),
                             ("commercial insurance", "life insurance", "insurance policy")),
    "real estate": (("不动产", "房产", "房屋产权", "房屋所有权", "土地使用权"),
                    ("real estate", "realestate", "real property", "property ownership", "fangchan")),
    "tax amount": (("纳税额", "纳税金额", "应纳税额", "缴税额", "纳税总额"),
                   ("tax amount", "tax paid", "taxes paid", "tax payment amount", "nashuie")),
}

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(text: str) -> tuple[str, ...]:
    """`bloodType`, `blood_type`, `BLOOD-TYPE` -> ('blood', 'type')."""
    return tuple(w.lower() for w in _WORD.findall(text))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _compile(topics):
    return [
        (topic, zh, [tuple(p.split()) for p in en]) for topic, (zh, en) in topics.items()
    ]


_FORBIDDEN = _compile(_FORBIDDEN_TOPICS)
_CONSENT = _compile(_CONSENT_TOPICS)


def _match(text: str, compiled) -> str | None:
    words = _words(text)
    joined = "".join(words)
    for topic, zh, en in compiled:
        if any(s in text for s in zh):
            return topic
        for phrase in en:
            if _contains(words, phrase) or (len(phrase) > 1 and "".join(phrase) == joined):
                return topic
    return None


@lru_cache(maxsize=4096)
def classify(*texts: str) -> tuple[str, str] | None:
    """(FORBIDDEN | CONSENT_ONLY, topic) for a field known by these names/labels, else None.
    Forbidden wins over consent-only."""
    for text in texts:
        if text and (topic := _match(text, _FORBIDDEN)):
            return FORBIDDEN, topic
    for text in texts:
        if text and (topic := _match(text, _CONSENT)):
            return CONSENT_ONLY, topic
    return None
