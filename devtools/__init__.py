"""Development tools: what ./run serve, the tests and the benchmarks run beside the relay.

None of this is deployed, and the relay never imports it: the relay's package holds only
what production runs.

    devtools.mail      a local SMTP server that stores what it receives (python -m devtools.mail)
    devtools.mailbox   decrypt and show what it received (python -m devtools.mailbox; ./run read-mail)
    devtools.keys      the development key pair that ./run serve encrypts to
    devtools.nginx     deploy/nginx as shipped, configured to run on loopback ports
    devtools.ports     free loopback ports, and waiting until a server listens on one
"""
