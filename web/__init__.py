"""The browser pages and their JavaScript library, installed as package data.

Nothing here runs in Python: the node (node/rpc/routes_web.py) serves these files.
"""
