"""Art. 11: personal data the platform never collects (religion, genes, fingerprints, blood
type, disease and medical history), and data it collects only with the subject's written
consent (income, deposits, securities, commercial insurance, real estate, tax amount).

Recognised by field name or label, in Chinese, English or pinyin. Pure functions. English and
pinyin are matched as whole words of the name (`blood_type`, `bloodType`, `xuexing`), so that
`general` is not taken for `gene`; Chinese is matched as a substring."""

from __future__ import annotations

import re
from functools import lru_cache

from ..i18n import N_

FORBIDDEN = "forbidden"
CONSENT_ONLY = "consent_only"

# topic -> (Chinese substrings, English/pinyin word sequences)
_FORBIDDEN_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    N_("religion"): (("宗教", "信仰", "教派"), ("religion", "religious", "faith", "zongjiao", "xinyang")),
    N_("genes"): (("基因", "遗传信息", "脱氧核糖核酸"), ("gene", "genes", "genetic", "genome", "dna", "jiyin")),
    N_("fingerprints"): (("指纹",), ("fingerprint", "fingerprints", "finger print", "zhiwen")),
    N_("blood type"): (("血型",), ("blood type", "blood group", "bloodtype", "xuexing")),
    N_("disease and medical history"): (
        ("疾病", "病史", "病历", "诊断", "病情", "既往史", "健康状况"),
        ("disease", "diseases", "illness", "medical history", "medical record", "diagnosis",
         "health condition", "health status", "jibing", "bingshi", "bingli"),
    ),
}
_CONSENT_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    N_("income"): (("收入", "工资", "薪酬", "薪金"), ("income", "salary", "wage", "wages", "shouru", "gongzi")),
    N_("deposits"): (("存款",), ("deposit", "deposits", "bank balance", "cunkuan")),
    N_("securities"): (("有价证券", "证券", "股票", "债券", "基金份额"),
                   ("securities", "security holdings", "stock holdings", "zhengquan")),
    N_("commercial insurance"): (("商业保险", "人寿保险", "保单"),
                             ("commercial insurance", "life insurance", "insurance policy")),
    N_("real estate"): (("不动产", "房产", "房屋产权", "房屋所有权", "土地使用权"),
                    ("real estate", "realestate", "real property", "property ownership", "fangchan")),
    N_("tax amount"): (("纳税额", "纳税金额", "应纳税额", "缴税额", "纳税总额"),
                   ("tax amount", "tax paid", "taxes paid", "tax payment amount", "nashuie")),
}

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(text: str) -> tuple[str, ...]:
    """`bloodType`, `blood_type`, `BLOOD-TYPE` -> ('blood', 'type')."""
    return tuple(w.lower() for w in _WORD.findall(text))


def _compile(topics):
    """Per topic: its Chinese substrings, its English/pinyin phrases as word tuples, and those
    phrases written as one word (`bloodtype`)."""
    out = []
    for topic, (zh, en) in topics.items():
        phrases = frozenset(tuple(p.split()) for p in en)
        out.append((topic, zh, phrases, frozenset("".join(p) for p in phrases if len(p) > 1)))
    return out


_FORBIDDEN = _compile(_FORBIDDEN_TOPICS)
_CONSENT = _compile(_CONSENT_TOPICS)
_LONGEST = max(len(p) for *_, phrases, _ in _FORBIDDEN + _CONSENT for p in phrases)


def _features(text: str):
    words = _words(text)
    grams = {words[i : i + n] for n in range(1, _LONGEST + 1) for i in range(len(words) - n + 1)}
    return grams, "".join(words), not text.isascii()


def _match(text: str, features, compiled) -> str | None:
    """The first topic (in table order) the text names. Sets of the text's word sequences, so
    the cost is that of the text, not of the text times the table."""
    grams, joined, chinese = features
    for topic, zh, phrases, joins in compiled:
        if chinese and any(s in text for s in zh):
            return topic
        if not grams.isdisjoint(phrases) or joined in joins:
            return topic
    return None


@lru_cache(maxsize=4096)
def classify(*texts: str) -> tuple[str, str] | None:
    """(FORBIDDEN | CONSENT_ONLY, topic) for a field known by these names/labels, else None.
    Forbidden wins over consent-only."""
    features = [(text, _features(text)) for text in texts if text]
    for text, f in features:
        if topic := _match(text, f, _FORBIDDEN):
            return FORBIDDEN, topic
    for text, f in features:
        if topic := _match(text, f, _CONSENT):
            return CONSENT_ONLY, topic
    return None
