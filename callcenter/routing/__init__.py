"""One ACD for every kind of task: queues, skills, strategies, offers."""
