//! Google Admin SDK Directory API (to be built: users/groups/members lists, JWT token endpoint, faults).
