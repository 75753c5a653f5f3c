from ainotes.core.errors import Conflict, NotFound


class TaskNotFound(NotFound):
    slug = "task-not-found"
    title = "Task not found"


class TaskOutOfSync(Conflict):
    slug = "task-out-of-sync"
    title = "The task no longer matches its note"
