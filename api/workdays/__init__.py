"""Working days (工作日) for the deadlines of Art. 13, 38 and 39: the State Council's holiday
schedule with its make-up working days (调休), official years from the database and the
statutory holidays, provisionally, for any other year.

Use the calendar a running server holds, `state.calendar` (a `WorkCalendar`):

    deadline = state.calendar.add_working_days(decided_on, 7)      # Art. 13
    late = not deadline.met_by(china_date(received_at))
    due = state.calendar.add_working_days(asked_on, 15, paused=[(first, last)])  # Art. 38

`deadline.provisional` is true when a counted day lies in a year whose notice is not loaded."""

from .calendar import (
    CalendarDay,
    DayKind,
    Deadline,
    NamedDay,
    WorkCalendar,
    YearSchedule,
    china_date,
)

__all__ = [
    "CalendarDay",
    "DayKind",
    "Deadline",
    "NamedDay",
    "WorkCalendar",
    "YearSchedule",
    "china_date",
]
