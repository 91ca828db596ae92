"""A kernel manager for running notebooks from scripts and tests without the kernel's
"running over TCP without encryption" warning.

ipykernel 7 warns when a kernel talks to its client over plain TCP. Its kernelspec
declares CurveZMQ support, and jupyter_client 8.7+ can provision the keys
(``transport_encryption="auto"``); where either side is older, or pyzmq was built
without CurveZMQ, the manager is left as it is (and older ipykernels do not warn)."""

from __future__ import annotations


class kernel_manager:
    """``with kernel_manager() as manager: NotebookClient(nb, km=manager).execute()``: the
    kernel the client starts is shut down on leaving the block (a client given a manager
    leaves that to its owner)."""

    def __init__(self, kernel_name: str = "python3"):
        import zmq
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name=kernel_name)
        if "transport_encryption" in self.manager.trait_names() and zmq.has("curve"):
            self.manager.transport_encryption = "auto"

    def __enter__(self):
        return self.manager

    def __exit__(self, *exc_info):
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=False)
        return False
