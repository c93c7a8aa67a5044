"""Scale-out: the engine as a Ray Serve application, and the client bot workers use.

Optional: ``pip install -e '.[scale]'`` adds Ray Serve. The client and the protocol need
only what a plain install has, so a bot worker can use a remote engine without Ray.
"""
