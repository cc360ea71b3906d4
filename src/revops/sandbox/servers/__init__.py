"""The platforms' fake servers, one module per source (named like it), each a ``SandboxApp``
speaking the platform's wire format. ``revops.sandbox.registry`` says which class serves which
source and imports a module only when its app is first built."""
