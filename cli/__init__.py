"""``ansiblectl``: the command-line client of a Distributed Ansible Tools balancer (or worker).

It only speaks HTTP (the stdlib's ``urllib``), and imports no service: ``python -m cli --help``.
"""
