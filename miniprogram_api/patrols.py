"""Patrols in the mini-program: property staff file them on the go, with photos from the upload endpoint."""
