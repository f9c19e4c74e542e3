"""The console's pages: sign-in and the role landings, the peer app, and the billers' pages."""
from . import api_auth, api_billing, api_billing_files, api_peer

routers = [api_auth.router, api_peer.router, api_billing.router, api_billing_files.router]
