"""The community studios' work with residents beyond articles: campaign events (sign-up, reminders,
attendance) and residents' suggestions (人民建议征集)."""
