"""The customer channels: each turns its own format into `bot.messages.Inbound`, hands it
to the router, and renders the replies its own way (`Channel.send`)."""
