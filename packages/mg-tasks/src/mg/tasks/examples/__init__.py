"""Small synthetic example datasets (see `mg.tasks.data.examples` for what each file holds).

Regenerate them with ``python -m mg.tasks.examples <folder>``.
"""
