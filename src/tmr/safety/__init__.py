"""Protections of the registry's contents, as pure logic the services call.

``pickles``: allow-list scanning of pickle-based weights without unpickling them.
``monitor``: running a sensitive model's JavaScript monitor under Node.js, contained.
``confusion``: scoring artifacts that look like malicious look-alikes of popular ones.
"""
