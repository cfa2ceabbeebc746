"""Trust: SIG keys, signed seals, K-of-N approval and a TUF channel (issue 9).

keys.py, repo.py, dsse.py and sbom.py are the repository / SIG side; client.py is the admin side.
See /work/TRUST-CONTRACT.md (and the README's "Trust" section) for the channel layout.
"""
