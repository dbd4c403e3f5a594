"""The course: the lab's exercises and files, its approaches measured side by side, the best practices, the
book's figures, a learner's progress, the plots and the doctor."""
