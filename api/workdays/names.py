"""Holiday names in the request's language. The calendar stores the names its sources give: the
`chinesecalendar` package's and the statutory schedule's English names (msgids here and in
statutory.py), or whatever a loaded notice file wrote, which is shown as written."""

from __future__ import annotations

from ..i18n import N_, _

IN_LIEU = " (in lieu)"  # statutory.py: a day off in lieu of a holiday on a weekend (补假)
BOTH = " / "  # statutory.py: a day under two holidays (Mid-Autumn on National Day)
# the package's names beyond the statutory ones
PACKAGE_ONLY = (N_("Anti-Fascist 70th Day"),)


def holiday_name(name: str | None) -> str | None:
    if name is None:
        return None
    return _(" / ").join(_one(part) for part in name.split(BOTH))


def _one(name: str) -> str:
    if name.endswith(IN_LIEU):
        return _("{holiday} (in lieu)", holiday=_(name.removesuffix(IN_LIEU)))
    return _(name)
