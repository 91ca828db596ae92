# Run by the grading kernel before a student's first cell (nbgrader_plugins.GradingExecute
# starts the kernel with --IPKernelApp.exec_files pointing here). Instructor-only.
#
# exit() and quit() in a notebook call IPython's ZMQExitAutocall, which calls the shell's
# ask_exit(): the kernel stops after the cell, and nbgrader would then drop the whole
# submission. Here ask_exit raises an error in that cell instead, so the cell fails and
# every later cell is still run and graded. The file leaves no name in the student's
# namespace.


def _grading_switch_off_exit():
    shell = get_ipython()  # noqa: F821 (the kernel's namespace provides it)
    message = ("exit() is switched off while grading: it would end the kernel that grades "
               "the rest of your notebook")

    def ask_exit(*args, **kwargs):
        raise RuntimeError(message)

    shell.ask_exit = ask_exit


_grading_switch_off_exit()
del _grading_switch_off_exit
