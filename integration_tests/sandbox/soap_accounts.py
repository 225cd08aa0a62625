"""The account's business units (MIDs): the one tokens are issued for, and the others it can see."""

MAIN_MID = 7281234  # the business unit tokens are issued for
CHILD_MIDS = (7294501, 7294502)  # other units, only visible with QueryAllAccounts or ClientIDs
ALL_MIDS = (MAIN_MID, *CHILD_MIDS)
