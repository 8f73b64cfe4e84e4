//! CSV bulk registration (issue 4's specification): built in the next commit.
