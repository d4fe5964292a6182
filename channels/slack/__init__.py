"""Slack: customers write in DMs to the app, support channels and Slack Connect channels;
agents answer in the ticket's thread of the agents' channel, in a notification's DM, or by mail."""

CHANNEL = "slack"
