"""Working days, readable by anyone: the deadlines of Art. 13, 38 and 39 as a portal shows them."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.errors import DomainError
from api.workdays import calendar as core
from api.workdays import service
from api.workdays.names import holiday_name

from .context import Context
from .errors import to_graphql_error


@strawberry.enum(description="What kind of day it is under the holiday schedule.")
class DayKind(Enum):
    WORKING_DAY = "working_day"
    REST_DAY = "rest_day"
    HOLIDAY = "holiday"
    MAKE_UP_DAY = "make_up_day"


@strawberry.type(description="The last day on which something due within `workingDays` working "
                 "days of `start` is on time (the start day itself is not counted).")
class Deadline:
    start: dt.date
    working_days: int
    due: dt.date
    provisional: bool = strawberry.field(
        description="A counted day lies in a year whose State Council notice is not loaded yet: "
        "computed from weekends and statutory holidays, and may change when it is."
    )


@strawberry.type
class CalendarDay:
    date: dt.date
    kind: DayKind
    is_working_day: bool
    name: str | None = strawberry.field(
        description="The holiday, or for a make-up working day the holiday it belongs to."
    )
    provisional: bool

    @classmethod
    def of(cls, d: core.CalendarDay) -> CalendarDay:
        return cls(date=d.day, kind=DayKind(d.kind.value), is_working_day=d.working,
                   name=holiday_name(d.name), provisional=not d.official)


@strawberry.type
class CalendarYear:
    year: int
    official: bool
    source: str
    loaded_at: dt.datetime | None
    holidays: list[CalendarDay]
    make_up_days: list[CalendarDay]

    @classmethod
    def of(cls, calendar: core.WorkCalendar, s: core.YearSchedule) -> CalendarYear:
        return cls(
            year=s.year,
            official=s.official,
            source=s.source,
            loaded_at=s.loaded_at,
            holidays=[CalendarDay.of(calendar.day(h.day)) for h in s.holidays],
            make_up_days=[CalendarDay.of(calendar.day(m.day)) for m in s.make_up_days],
        )


def _calendar(info: Info[Context, None]) -> core.WorkCalendar:
    return info.context.state.calendar


@strawberry.type
class WorkdaysQuery:
    @strawberry.field(description="Art. 13, 38, 39: the due date of something to be done within "
                      f"`workingDays` (0-{service.MAX_WORKING_DAYS}) working days of `start`.")
    def deadline(self, info: Info[Context, None], start: dt.date, working_days: int) -> Deadline:
        try:
            d = service.deadline(_calendar(info), start, working_days)
        except DomainError as e:
            raise to_graphql_error(e) from e
        return Deadline(start=start, working_days=working_days, due=d.due, provisional=d.provisional)

    @strawberry.field(description=f"Each day from `from` to `to` (at most {service.MAX_RANGE_DAYS}).")
    def calendar_days(
        self,
        info: Info[Context, None],
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
    ) -> list[CalendarDay]:
        try:
            return [CalendarDay.of(d) for d in service.days(_calendar(info), from_, to)]
        except DomainError as e:
            raise to_graphql_error(e) from e

    @strawberry.field(description="A year's days off and make-up working days; official once its "
                      "notice is loaded, otherwise the provisional statutory schedule.")
    def calendar_year(self, info: Info[Context, None], year: int) -> CalendarYear:
        calendar = _calendar(info)
        try:
            return CalendarYear.of(calendar, calendar.schedule(year))
        except DomainError as e:
            raise to_graphql_error(e) from e

    @strawberry.field(description="The years whose official schedule is loaded, oldest first.")
    def calendar_years(self, info: Info[Context, None]) -> list[CalendarYear]:
        calendar = _calendar(info)
        return [CalendarYear.of(calendar, calendar.schedule(y)) for y in calendar.official_years]
