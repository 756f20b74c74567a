"""Subjects' rights (Art. 37-40): objections, credit repair, deletion on request, their cases
and working-day deadlines, and the notifications outbox.

    objections.file_objection      Art. 37: the subject files; the record is marked disputed
    steps.take_step                Art. 38, 39: each later step, by the role the article names
    repair.apply_for_repair        Art. 39: the subject applies to the provider
    deletion.request_deletion      Art. 40: the subject deletes its commendation, volunteer,
                                   donation records
    cases.get_case / list_cases    who sees a case (auth.py)
    cases.overdue_steps            open steps past due, per role and organisation
    notifications                  the outbox the portals read
    deadlines.recompute_deadlines  run by the calendar load (api/workdays)
"""

from ..workdays import service as _calendar_service

# The calendar's load recomputes stored provisional due dates through the modules listed in
# RECOMPUTE_MODULES, inside its transaction. Listed here, so that any process that can take a
# rights step (the server, the CLI) also recomputes their deadlines when a year is loaded.
if "api.rights.deadlines" not in _calendar_service.RECOMPUTE_MODULES:
    _calendar_service.RECOMPUTE_MODULES.append("api.rights.deadlines")
