"""The generic Python runner of the FaaS platform.

It loads one function's code (from a mounted file now; handed over once by
the gateway in pool mode later), then serves it over HTTP/1.1. It knows
nothing of Kubernetes beyond the files and environment the pod gives it.
Standard library only.
"""
