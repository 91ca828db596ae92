# Run by the grading kernel before a student's first cell (nbgrader_plugins.GradingExecute
# starts the kernel with --IPKernelApp.exec_files pointing here). Instructor-only.
#
# exit() and quit() in a notebook call IPython's ZMQExitAutocall, which calls the shell's
# ask_exit(): the kernel stops after the cell, and nbgrader would then drop the whole
# submission. Here ask_exit raises an error in that cell instead, so the cell fails and
# every later cell is still run and graded.
#
# Then the kernel's sandbox (sandbox.py, "kernel" rules) is installed, with the settings
# GradingExecute leaves in the environment variable SGD_GRADING_SANDBOX (removed here):
# no new process, database, thread or change of folder from student code; no write inside
# the course folder but in the notebook's own folder, none directly into a folder that
# holds the course, none into Python's, the series' or IPython's and Jupyter's files; no
# reading of the course's files outside the notebook's own folder, nor of the exchange.
# The sandbox's source comes in the settings, as GradingExecute read it before any kernel.
# The file leaves no name in the student's namespace.


def _grading_switch_off_exit():
    shell = get_ipython()  # noqa: F821 (the kernel's namespace provides it)
    message = ("exit() is switched off while grading: it would end the kernel that grades "
               "the rest of your notebook")

    def ask_exit(*args, **kwargs):
        raise RuntimeError(message)

    shell.ask_exit = ask_exit


def _grading_sandbox():
    import importlib.util
    import json
    import os
    import runpy
    import sys
    from pathlib import Path

    settings = os.environ.pop("SGD_GRADING_SANDBOX", None)
    if not settings:
        return
    settings = json.loads(settings)
    spec = importlib.util.find_spec("helpers")
    helpers = str(Path(spec.origin).resolve().parent) if spec is not None and spec.origin else None
    shell = get_ipython()  # noqa: F821
    protected = [shell.profile_dir.location, shell.ipython_dir]
    try:
        from jupyter_core import paths
        protected += [paths.jupyter_config_dir(), paths.jupyter_data_dir()]
    except ImportError:
        pass
    # cffi calls C functions without any audit event: nothing here may load it (Numba
    # imports it if it can); the sandbox refuses a later import.
    for name in ("cffi", "_cffi_backend"):
        sys.modules.setdefault(name, None)
    if settings.get("sandbox_source"):       # as GradingExecute read it, before any kernel
        sandbox = {"__name__": "grading_sandbox", "__file__": settings["sandbox"],
                   "__builtins__": __builtins__}
        exec(compile(settings["sandbox_source"], settings["sandbox"], "exec"), sandbox)
    else:
        sandbox = runpy.run_path(settings["sandbox"], run_name="grading_sandbox")
    sandbox["install"]("kernel", grader_dir=settings["grader"], helpers_dir=helpers,
                       course_root=settings["course_root"] or None,
                       own_dir=settings["own_dir"], extra_protected=protected,
                       private=settings.get("private") or ())


_grading_switch_off_exit()
_grading_sandbox()
del _grading_switch_off_exit, _grading_sandbox
