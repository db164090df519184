"""The console's pages and actions, one module per audience or area; none imports another."""
