"""Pairing's HTTP API: the roster, assignments and encounters, and cases with their follow-up."""
from . import api_assignments, api_board, api_cases, api_roster

routers = [api_roster.router, api_assignments.router, api_cases.router, api_board.router]
