-- Placeholder for version 7 (assigned to the fleet runs of #27): the lead drops this file when merging the real 007.
SELECT 1;
