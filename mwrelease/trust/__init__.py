"""Trust: SIG keys, signed seals, K-of-N approval and a TUF channel (issue 9).

keys.py, layout.py, root.py, proposal.py, publish.py, repo.py (status, show), review.py, dsse.py and sbom.py are
the repository / SIG side; client.py is the admin side.
See /work/TRUST-CONTRACT.md (and the README's "Trust" section) for the channel layout.
"""
