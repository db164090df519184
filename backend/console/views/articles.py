"""The studio's articles in the console: write, edit, preview, publish and withdraw; every save a version to
compare and restore."""
