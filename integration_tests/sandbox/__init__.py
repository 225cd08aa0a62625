"""A local fake Salesforce Marketing Cloud: token, REST and SOAP APIs on 127.0.0.1, with fault injection.

It imitates SFMC (see the project's protocol notes), never the connector, and imports nothing from it.
"""

from .server import Sandbox, SandboxOptions, start_sandbox

__all__ = ["Sandbox", "SandboxOptions", "start_sandbox"]
