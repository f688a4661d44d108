"""A user's history moving in and out of Parley: export, import from other apps, and the formats of each."""
