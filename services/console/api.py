"""The console's pages: sign-in and the role landings, the peer app, the billers' and the supervisors' pages."""
from . import (api_auth, api_billing, api_billing_files, api_peer, api_supervisor, api_supervisor_care,
               api_supervisor_outcomes, api_supervisor_roster)

routers = [api_auth.router, api_peer.router, api_billing.router, api_billing_files.router, api_supervisor.router,
           api_supervisor_roster.router, api_supervisor_care.router, api_supervisor_outcomes.router]
