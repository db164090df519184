"""Legal-education articles of the community studios (城管社区工作室): writing, versions, publishing, the
bot's index of them, and pushing them to residents."""
