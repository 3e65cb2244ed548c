"""One file per schema revision, applied in order at `ClassroomDB.open`."""
