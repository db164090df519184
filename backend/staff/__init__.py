"""Staff of the bureau, the squads, the studios and property companies: accounts, roles and console sessions."""
