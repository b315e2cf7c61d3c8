"""SupportFlow agent: state, nodes, guards, retrieval and the services they use."""
