"""One file per screen; each is constructed with the Store plus its subject."""
