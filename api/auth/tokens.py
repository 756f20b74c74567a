"""Bearer tokens -> Principal. Fixed algorithm allow-list, issuer, audience, expiry and the
platform's own claims; any failure is a 401 with a reason, never an anonymous request."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt

from ..config import SYMMETRIC_ALGORITHMS, Settings
from ..i18n import N_, SOURCE, stored_, use_locale
from ..identifiers import IdentifierError, parse_subject_key, validate_uscc
from .principal import ANONYMOUS, ROLES, Principal

REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat")


class TokenError(Exception):
    """The token is refused. `str()` is the reason in English (the WWW-Authenticate header,
    which is ASCII, and the server's log); `reason()` the same in the request's language (the
    401 body). Details quoted from the token library or the identifier check stay English."""

    def __init__(self, message: str, /, **params: object):
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params

    def reason(self) -> str:
        try:
            return stored_(self.message, **self.params)
        except ValueError:  # a reason written without N_(): still a 401, in English
            return str(self)


@dataclass
class TokenVerifier:
    settings: Settings
    _key: Any = None
    _jwks: jwt.PyJWKClient | None = None
    # Verified tokens, kept until they expire: a portal sends the same token many times and a
    # signature check costs more than the rest of a small lookup. Only successes are kept.
    _verified: OrderedDict[str, tuple[Principal, float]] = field(default_factory=OrderedDict)
    cache_size: int = 10_000

    def __post_init__(self) -> None:
        s = self.settings
        if set(s.jwt_algorithms) & SYMMETRIC_ALGORITHMS:
            self._key = s.jwt_secret
        elif s.jwt_public_key_file:
            self._key = s.jwt_public_key_file.read_text()
        else:
            self._jwks = jwt.PyJWKClient(s.jwt_jwks_url, cache_keys=True, lifespan=300)

    def principal_from_header(self, authorization: str | None) -> Principal:
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenError(N_("Authorization header must be 'Bearer <token>'"))
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            principal, expires = hit
            if time.time() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise TokenError(N_("malformed token: {detail}"), detail=str(e)) from None
        alg = header.get("alg")
        if alg not in s.jwt_algorithms:
            raise TokenError(N_("token algorithm {alg} is not accepted here"), alg=repr(alg))
        key = self._key
        if self._jwks is not None:
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWTError as e:
                raise TokenError(N_("no signing key for this token: {detail}"), detail=str(e)) from None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(s.jwt_algorithms),
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                leeway=s.jwt_leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError(N_("token has expired")) from None
        except jwt.InvalidAudienceError:
            raise TokenError(N_("token is not meant for this platform (audience)")) from None
        except jwt.InvalidIssuerError:
            raise TokenError(N_("token was issued by an issuer this platform does not trust")) from None
        except jwt.InvalidSignatureError:
            raise TokenError(N_("token signature does not verify")) from None
        except jwt.MissingRequiredClaimError as e:
            raise TokenError(N_("token lacks the required claim {claim}"), claim=repr(e.claim)) from None
        except jwt.ImmatureSignatureError:
            raise TokenError(N_("token is not valid yet (iat or nbf in the future)")) from None
        except jwt.PyJWTError as e:
            raise TokenError(N_("token refused: {detail}"), detail=str(e)) from None
        principal = principal_from_claims(claims, legacy_uscc=s.legacy_uscc)
        # cached no longer than the token lives (exp is checked here with no leeway)
        return principal, float(claims["exp"])


def _text_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise TokenError(N_("token lacks the required claim {claim}"), claim=repr(name))
    return value.strip()


def principal_from_claims(
    claims: dict[str, Any], *, legacy_uscc: frozenset[str] = frozenset()
) -> Principal:
    roles = claims.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise TokenError(N_("token claim 'roles' must be a non-empty list of role names"))
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise TokenError(N_("token names unknown roles {unknown}; known roles are {known}"),
                         unknown=str(unknown), known=str(list(ROLES)))
    org = _text_claim(claims, "org")
    try:
        with use_locale(SOURCE):  # a token's reason is English: it also goes in WWW-Authenticate
            org = validate_uscc(org, legacy_allow=legacy_uscc)
    except IdentifierError as e:
        raise TokenError(N_("token claim 'org' is not a valid unified social credit code: {detail}"),
                         detail=str(e)) from None
    subject_key = None
    verified = False
    if "subject" in roles:
        try:
            with use_locale(SOURCE):
                subject_key = parse_subject_key(
                    _text_claim(claims, "subject_key"), legacy_uscc=legacy_uscc
                ).value
        except IdentifierError as e:
            raise TokenError(N_("token claim 'subject_key' is not a valid identifier: {detail}"),
                             detail=str(e)) from None
        if not isinstance(claims.get("real_name_verified"), bool):
            raise TokenError(N_("a subject's token needs the boolean claim 'real_name_verified'"))
        verified = claims["real_name_verified"]
    return Principal(
        user_id=_text_claim(claims, "sub"),
        name=_text_claim(claims, "name"),
        org_code=org,
        org_name=_text_claim(claims, "org_name"),
        roles=tuple(dict.fromkeys(roles)),
        subject_key=subject_key,
        real_name_verified=verified,
    )


def mint_token(
    settings: Settings, claims: dict[str, Any], *, ttl_seconds: int = 3600, now: int | None = None
) -> str:
    """Local tokens for trying the API and for tests (HS* configurations only)."""
    import time

    if not set(settings.jwt_algorithms) & SYMMETRIC_ALGORITHMS:
        raise TokenError(N_("tokens can only be minted locally with an HS* secret"))
    issued = int(time.time()) if now is None else now
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + ttl_seconds,
        **claims,
    }
    return jwt.encode(payload, settings.jwt_secret, algorithm=settings.jwt_algorithms[0])
