"""The console's pages: sign-in and the role landings, and the peer app."""
from . import api_auth, api_peer

routers = [api_auth.router, api_peer.router]
