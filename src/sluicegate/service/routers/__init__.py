"""The service's routers, one per capability (reference data, decisions, screening,
simulations, users and events) plus the server-rendered dashboard."""
