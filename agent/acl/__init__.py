"""Nomad's ACL system as the agent endpoints use it: the policy language and the token store."""
