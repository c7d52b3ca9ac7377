from tenflow.mess.case import MessCase, load_mess_case  # noqa: F401  (helper-7: case data model)
