"""Who may call which route: permissions, the route table, principals, audit and hardening."""
