"""Who is reviewing: the signed-in user when the deployment configures Streamlit's built-in
authentication (``st.login``, an ``[auth]`` section in ``.streamlit/secrets.toml``), else the
name typed in the sidebar.

With authentication configured the reviewer recorded with every decision is the signed-in
user's name and e-mail (from the identity provider's token; not editable), and nobody can
save a decision before signing in. Without it, anyone may type a name (a trusted network).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.state import UIState


@dataclass(frozen=True)
class Reviewer:
    """The reviewer of this session: ``name`` recorded with each decision ("" when unknown),
    ``signed_in`` (authenticated by the identity provider), ``auth`` (the deployment
    configures authentication: typed names are then not accepted)."""

    name: str
    signed_in: bool
    auth: bool

    @property
    def can_save(self) -> bool:
        return bool(self.name) and (self.signed_in or not self.auth)


def reviewer_from_user(user: Mapping[str, Any], typed: str) -> Reviewer:
    """The reviewer from ``st.user``'s fields and the typed name. ``is_logged_in`` is present
    in ``st.user`` only when authentication is configured (False) or a user signed in (True)."""
    if "is_logged_in" not in user:
        return Reviewer(typed.strip(), signed_in=False, auth=False)
    if not user.get("is_logged_in"):
        return Reviewer("", signed_in=False, auth=True)
    name = str(user.get("name") or "").strip()
    email = str(user.get("email") or "").strip()
    label = f"{name} <{email}>" if name and email else (name or email or str(user.get("sub") or "signed-in user"))
    return Reviewer(label, signed_in=True, auth=True)


def reviewer_sidebar(state: UIState) -> Reviewer:
    """The sidebar's reviewer section; returns the session's reviewer."""
    try:
        user = st.user.to_dict()
    except Exception:  # no script context or an unexpected platform value: treat as no auth
        user = {}
    who = reviewer_from_user(user, state.reviewer_typed)
    if who.signed_in:
        st.sidebar.text_input(
            "Reviewer (signed in)",
            value=who.name,
            disabled=True,
            key="reviewer_signed_in",
            help="Recorded with every decision; from your sign-in, not editable.",
        )
        st.sidebar.button("Sign out", on_click=st.logout, key="logout")
    elif who.auth:
        st.sidebar.info("Sign in to record review decisions.")
        st.sidebar.button("Sign in", on_click=st.login, key="login", type="primary")
    else:
        st.sidebar.text_input("Reviewer name (required)", key="reviewer", placeholder="e.g. Dr A. Smith")
    return who
