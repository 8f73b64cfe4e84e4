//! Microsoft Graph (to be built: users/groups delta, token endpoint, faults).
