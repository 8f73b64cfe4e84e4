//! Connectors that read identity sources and yield normalized records. Filled by the sync-engine issue.
