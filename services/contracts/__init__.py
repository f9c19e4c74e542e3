"""Contracts: the data shapes services exchange (events and the ED visit), and nothing else.

`schemas/events/*.json` are generated from these models (`peerbridge schemas`); a test fails when they drift.
"""
from .base import Event, Shape, event_class, event_classes, parse
from .billing import BatchExported, ClaimHeld, ClaimPrepared
from .intake import EdVisitCancelled, EdVisitDischarged, EdVisitRegistered, EdVisitUpdated, PeerSupportIndicated
from .notify import AlertAcknowledged, MessageStatusChanged, OfferReplied
from .pairing import (CaseClosed, ConsentRecorded, Credential, FollowUpWindowClosing, FollowUpWindowOpened,
                      NoPeerAvailable, PeerArrived,
                      PeerAssignmentAccepted, PeerAssignmentDeclined, PeerAssignmentExpired, PeerAssignmentOffered,
                      PeerAssignmentWithdrawn, PeerEncounterCompleted)
from .referral import DisclosureHeld, DisclosureSent, ReferralCreated, ReferralStatusChanged
from .visit import CdcRaceCode, Indication, PatientRef, Payer, Visit

__all__ = [
    "AlertAcknowledged", "BatchExported", "CaseClosed", "CdcRaceCode", "ClaimHeld", "ClaimPrepared",
    "ConsentRecorded", "Credential", "DisclosureHeld", "DisclosureSent", "EdVisitCancelled", "EdVisitDischarged",
    "EdVisitRegistered", "EdVisitUpdated", "Event", "Indication", "MessageStatusChanged", "NoPeerAvailable",
    "OfferReplied", "PatientRef", "Payer", "PeerArrived", "PeerAssignmentAccepted", "PeerAssignmentDeclined",
    "PeerAssignmentExpired", "PeerAssignmentOffered", "PeerAssignmentWithdrawn", "PeerEncounterCompleted",
    "PeerSupportIndicated", "ReferralCreated", "ReferralStatusChanged", "Shape", "Visit", "event_class",
    "event_classes", "parse", "FollowUpWindowClosing", "FollowUpWindowOpened",
]
