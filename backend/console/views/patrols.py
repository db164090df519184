"""Patrols (巡查记录) in the console: a company files its patrols and findings and follows what became of them."""
