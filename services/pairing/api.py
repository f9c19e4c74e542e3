"""Pairing's HTTP API: the roster, assignments and encounters, cases with their follow-up, care, outcomes, consents
and the supervisor's board."""
from . import api_assignments, api_board, api_care, api_cases, api_consents, api_outcomes, api_roster, api_wellbeing

routers = [api_roster.router, api_assignments.router, api_cases.router, api_care.router, api_wellbeing.router,
           api_outcomes.router, api_consents.router, api_board.router]
